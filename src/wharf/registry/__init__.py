"""What push, pull, mount, tag and delete mean."""
