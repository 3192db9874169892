// Adversarial request bodies shared by the benchmark and the tests.
const LINE = 'if (x) {\\n\\t\\"a\\": \\"b\\\\c\\"\\n}\\n';

/** A chat request body of exactly `bytes` bytes whose prompt is code full of escapes. */
export function escapeHeavyBody(bytes: number): string {
  const head = '{"model":"m","messages":[{"role":"user","content":"';
  const tail = '"}]}';
  const room = bytes - head.length - tail.length;
  let content = LINE.repeat(Math.ceil(room / LINE.length)).slice(0, room);
  while (content.endsWith('\\')) content = content.slice(0, -1) + 'x';
  return head + content + tail;
}
