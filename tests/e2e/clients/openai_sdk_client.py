"""The official OpenAI Python SDK as a client of the gateway: lists the models, reads one, chats
and streams, and prints what it got as one JSON line. Usage: openai_sdk_client.py BASE_URL API_KEY"""
import json
import sys

from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0, timeout=20)
listed = [m.id for m in client.models.list()]
one = client.models.retrieve("gpt-4o").id
chat = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
print(json.dumps({"models": listed, "model": one, "chat": chat.choices[0].message.content, "stream": streamed}))
