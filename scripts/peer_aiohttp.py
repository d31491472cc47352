#!/usr/bin/env python3
"""A plain asynchronous Python client, the peer of the benchmark: the same invitations, the same
concurrency, against the same simulator, with no journal, no rate limiter and no retries.

Usage: peer_aiohttp.py BASE_URL ORG_ID TOKEN ROWS CONCURRENCY
Prints one JSON line: {"ok": N, "failed": N}.
"""

import asyncio
import json
import sys

import aiohttp

MEDIA = "application/vnd.atlas.2023-01-01+json"


async def main(base, org, token, rows, concurrency):
    url = f"{base}/api/atlas/v2/orgs/{org}/invites"
    headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA, "Content-Type": MEDIA}
    queue = asyncio.Queue()
    for i in range(rows):
        queue.put_nowait(i)
    counts = {"ok": 0, "failed": 0}

    async def worker(session):
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = {"username": f"peer{i}@example.com", "roles": ["ORG_MEMBER"]}
            async with session.post(url, data=json.dumps(body), headers=headers) as response:
                await response.read()
                counts["ok" if response.status == 200 else "failed"] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    print(json.dumps(counts))


if __name__ == "__main__":
    base, org, token, rows, concurrency = sys.argv[1:6]
    asyncio.run(main(base, org, token, int(rows), int(concurrency)))
