/**
 * Where commands report to. Human text and progress go to stderr so that
 * stdout carries only results (one JSON document with --json).
 */
export interface Output {
  json: boolean;
  /** Progress goes to a terminal and is rewritten in place: worth updating as a long step advances. */
  tty: boolean;
  /** A line for the human reader (suppressed with --json). */
  info(message: string): void;
  warn(message: string): void;
  /** A transient progress line: rewritten in place on a TTY, plain lines otherwise. */
  progress(message: string): void;
  /** The command's result: JSON with --json, else the human text. */
  result(data: object, human: string): void;
  /** One record of a stream (`--follow`): one compact JSON line with --json, else the human text. */
  record(data: object, human: string): void;
}

/** What output writes to: process.stdout/stderr, or a plain object in tests. */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function createOutput(json: boolean, stdout: TextSink = process.stdout, stderr: TextSink = process.stderr): Output {
  const tty = Boolean(stderr.isTTY) && !json;
  let transient = false;
  const clear = () => {
    if (transient) stderr.write('\r\x1b[2K');
    transient = false;
  };
  return {
    json,
    tty,
    info(message) {
      if (json) return;
      clear();
      stderr.write(`${message}\n`);
    },
    warn(message) {
      clear();
      stderr.write(`warning: ${message}\n`);
    },
    progress(message) {
      if (tty) {
        clear();
        const width = (stderr.columns ?? 80) - 1;
        stderr.write(message.length > width ? `${message.slice(0, width - 1)}…` : message);
        transient = true;
      } else if (!json) {
        stderr.write(`${message}\n`);
      }
    },
    result(data, human) {
      clear();
      if (json) stdout.write(`${JSON.stringify({ ok: true, ...data }, null, 2)}\n`);
      else if (human) stdout.write(human.endsWith('\n') ? human : `${human}\n`);
    },
    record(data, human) {
      clear();
      stdout.write(json ? `${JSON.stringify(data)}\n` : `${human}\n`);
    },
  };
}
