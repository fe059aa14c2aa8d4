// Pipeline module: see ARCHITECTURE.md
