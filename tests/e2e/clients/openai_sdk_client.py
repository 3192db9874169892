"""The official OpenAI Python SDK as a client of the gateway, printing what it got as one JSON line.
Usage: openai_sdk_client.py BASE_URL API_KEY [STREAMS]. Without STREAMS it lists the models, reads
one, chats and streams once; with STREAMS it streams that many chats, one after another."""
import json
import sys

from openai import OpenAI

# The SDK's own retries are off: every answer the gateway gives is seen as it is.
client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0, timeout=20)


def streamed_text():
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


if len(sys.argv) > 3:
    print(json.dumps({"streams": [streamed_text() for _ in range(int(sys.argv[3]))]}))
else:
    listed = [m.id for m in client.models.list()]
    one = client.models.retrieve("gpt-4o").id
    chat = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    print(json.dumps({"models": listed, "model": one, "chat": chat.choices[0].message.content, "stream": streamed_text()}))
