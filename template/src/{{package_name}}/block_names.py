"""Names of the Prefect blocks `make blocks` saves and the flows load at run time, and
the tag of the fetch tasks (whose concurrency limit `make deploy` keeps).

Block names allow lowercase letters, digits and dashes: each is `<package>-...`.
"""

PREFIX = __name__.split(".", 1)[0].replace("_", "-")
ALERTS = f"{PREFIX}-alerts"
FETCH_TOKEN = f"{PREFIX}-fetch-auth-token"
GIT_TOKEN = f"{PREFIX}-git-token"  # read by prefect.yaml's git_clone step, if it has one
STORAGE = f"{PREFIX}-storage"
STORAGE_CREDENTIALS = f"{PREFIX}-storage-credentials"
FETCH_TAG = f"{PREFIX}-fetch"
