"""agenther-local: hindsight relabeling of failed agent trajectories with local judges."""
__version__ = "0.1.0"
