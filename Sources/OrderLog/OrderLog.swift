// OrderLog module: see ARCHITECTURE.md
