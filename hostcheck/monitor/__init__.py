"""`hostcheck monitor`: the timer mode. ``cli`` composes a run; ``state`` keeps the reports;
``drift`` says what changed between two of them; ``install`` places the systemd units."""
