"""`python -m gongying` runs the command line."""

from gongying.cli import main

if __name__ == "__main__":
    main()
