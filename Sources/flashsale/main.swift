import ArgumentParser
print("flashsale")
