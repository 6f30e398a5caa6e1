"""Campaign spec, planning and execution."""
