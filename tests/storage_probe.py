"""Look inside an emulated bucket with the provider's own SDK (run by the project's Python).

    python storage_probe.py PROVIDER BUCKET create|list|delete [KEY]

`list` prints {key: version} as JSON, where the version changes whenever the object
is written, even with the same bytes: last-modified time and ETag (S3, Azure), or
generation (GCS).
"""

from __future__ import annotations

import json
import os
import sys


def main(provider: str, bucket: str, command: str, key: str = "") -> None:
    if provider == "s3":
        import boto3

        s3 = boto3.client("s3", endpoint_url=os.environ["PROBE_ENDPOINT"])
        if command == "create":
            s3.create_bucket(Bucket=bucket)
        elif command == "delete":
            s3.delete_object(Bucket=bucket, Key=key)
        else:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            found = {
                o["Key"]: f"{o['ETag']}@{o['LastModified'].isoformat()}"
                for p in pages
                for o in p.get("Contents", [])
            }
            print(json.dumps(found))
    elif provider == "gcs":
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(credentials=AnonymousCredentials(), project="emulator-project")
        if command == "create":
            client.create_bucket(bucket)
        elif command == "delete":
            client.bucket(bucket).blob(key).delete()
        else:
            print(json.dumps({b.name: str(b.generation) for b in client.list_blobs(bucket)}))
    else:
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(
            os.environ["AZURE_STORAGE_CONNECTION_STRING"]
        )
        container = service.get_container_client(bucket)
        if command == "create":
            container.create_container()
        elif command == "delete":
            container.delete_blob(key)
        else:
            blobs = container.list_blobs()
            print(json.dumps({b.name: f"{b.etag}@{b.last_modified.isoformat()}" for b in blobs}))


if __name__ == "__main__":
    main(*sys.argv[1:])
