"""The config file: typed records (model) and their TOML store (store)."""
