"""The exchangeable parts of a run: losses, miners, augmentation, and the embedding pass that
turns a glyph set into class centers in a loss's space. Each part declares its own settings;
plug-ins add parts of the same kinds (see docs/ARCHITECTURE.md)."""
