"""The only door to the machine: the Host (bounded reads, commands, the kernel log, processes,
paths resolved inside the root), both sides of the fixture format (replaying a tree and
recording one), the bounded reader of files given on the command line, and the atomic writer of
report files."""
