"""Business logic: plain functions and data classes that know nothing of Prefect."""
