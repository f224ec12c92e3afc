"""The command line: argument parsing, composition of the pipeline, output and exit codes."""
