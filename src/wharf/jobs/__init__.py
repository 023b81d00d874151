"""Background work: a job queue kept in the metadata database, periodic schedules derived
from it, and a runner that executes jobs in a server process or in `wharf worker`."""
