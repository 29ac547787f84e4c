"""``python -m logicpo``: the command line."""

from logicpo.cli import run

if __name__ == "__main__":
    run()
