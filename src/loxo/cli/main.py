"""Entry point of the ``loxo`` command (filled in by the CLI module)."""


def main() -> None:
    raise SystemExit("loxo CLI not built yet")
