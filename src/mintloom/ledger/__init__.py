"""Chain node management, contracts client and the write-ahead journal."""
