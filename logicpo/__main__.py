"""``python -m logicpo``: the command line."""

from logicpo.cli import main

if __name__ == "__main__":
    main(prog_name="logicpo")
