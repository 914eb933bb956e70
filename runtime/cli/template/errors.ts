// Template errors, worded like Go's text/template behind Docker's "template parsing error: " prefix.
import { Buffer } from 'node:buffer';

export class TemplateError extends Error {
  /** `detail` is Go's own message, without Docker's "template parsing error: " prefix. */
  constructor(readonly phase: 'parse' | 'exec', readonly detail: string) {
    super(`template parsing error: ${detail}`);
    this.name = 'TemplateError';
  }
}

export function lineAndColumn(src: string, pos: number): [number, number] {
  const before = src.slice(0, pos);
  const lineStart = before.lastIndexOf('\n') + 1;
  return [before.split('\n').length, Buffer.byteLength(before.slice(lineStart))];
}

export function parseError(src: string, pos: number, msg: string): TemplateError {
  return new TemplateError('parse', `template: :${lineAndColumn(src, pos)[0]}: ${msg}`);
}
