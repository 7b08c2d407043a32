"""The ``loxo`` command line."""
