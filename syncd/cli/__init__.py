"""The command line: commands, output formats and exit codes. The one error boundary."""
