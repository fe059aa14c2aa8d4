// Reports module: see ARCHITECTURE.md
