"""`python -m archive` runs the `hra` command line."""

from archive.cli import main

if __name__ == "__main__":
    main()
