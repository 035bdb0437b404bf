"""ntpipe: Nucleic Transformer histone-mark prediction across rice genomes."""
__version__ = "0.1.0"
