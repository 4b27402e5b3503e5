"""Glyph data: alphabets, fonts and their coverage, rendering, distortions, importers, the glyph
HDF5 contract, hand drawings. Everything before the network: it turns fonts, image folders and
drawings into ``siam-glyphs/1`` files (see docs/DATA.md)."""
