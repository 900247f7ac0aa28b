"""The work of each command-line subcommand, one module per command (`sim/cli.py` holds the
argument surface and the error boundary). A command is a face: it reads options, prints to the
terminal and picks the exit status; what it runs belongs to the layers below (the scenario, the
machine, the peer). Each module is imported only when its command runs.

    boot.py   python -m sim boot ELF    boot on the built-in machine, stream the UART
    run.py    python -m sim run ...     one GET/POST scenario, its artifacts and verdict
    sweep.py  python -m sim sweep ...   the smallest failing POST body size, and what it means
    gallery.py python -m sim gallery    the defect gallery diagnosed, and its confusion table
"""

EXIT_INTERRUPTED = 130          # Ctrl-C: 128 + SIGINT, the shell's convention
