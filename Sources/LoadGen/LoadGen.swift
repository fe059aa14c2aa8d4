// LoadGen module: see ARCHITECTURE.md
