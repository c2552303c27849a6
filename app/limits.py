"""Size limits of user input: the one place forms, API schemas and services read them from."""

PROJECT_NAME_MAX = 100
PROJECT_INSTRUCTIONS_MAX = 20_000
THREAD_TITLE_MAX = 200
MODEL_ID_MAX = 100  # threads.model is a VARCHAR(100)
TOKEN_NAME_MAX = 100
MESSAGE_CONTENT_MAX = 100_000
SEARCH_QUERY_MAX = 200
EMAIL_MAX = 254
PASSWORD_MIN = 8
PASSWORD_MAX = 200

DEFAULT_THREAD_TITLE = "New thread"

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200

ID_MAX = 2**63 - 1  # the largest id a database integer holds; ids in URLs and cursors stay within it
