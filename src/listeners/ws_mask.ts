/**
 * Unmasking client frames in place (RFC 6455 §5.3), pure: a word at a time,
 * telling whether the bytes were ASCII, and in line mode where each newline
 * lies (`ws_frames.ts` is its one user).
 *
 * @module
 */

import { newlineBits, WordView } from "../_util/words.ts";

const LF = 0x0a;
const maskWord = new Uint8Array(4);
const maskWord32 = new Int32Array(maskWord.buffer);
const wordView = new WordView();

/**
 * Unmasks `bytes[from..to)` in place, whose first byte takes the mask's byte
 * `start`: four bytes at a time where the buffer is aligned. The mask's byte
 * k is `(mask >>> 8k) & 0xff`. Given `newlines`, notes in it where each
 * `\n` written lies, plus `shift`.
 *
 * @returns the OR of the bytes unmasked, in some of its bytes: a high bit
 *   (`& 0x80808080`) means they are not all ASCII
 */
export function unmask(
  bytes: Uint8Array,
  from: number,
  to: number,
  mask: number,
  start: number,
  newlines?: number[],
  shift = 0,
): number {
  let i = from;
  let high = 0;
  const offset = start - from;
  for (; i < to && ((bytes.byteOffset + i) & 3) !== 0; i++) {
    const c = bytes[i] = bytes[i]! ^
      ((mask >>> (((offset + i) & 3) << 3)) & 0xff);
    high |= c;
    if (c === LF && newlines !== undefined) newlines.push(i + shift);
  }
  const count = (to - i) >> 2;
  if (count > 0) {
    for (let k = 0; k < 4; k++) {
      maskWord[k] = mask >>> (((offset + i + k) & 3) << 3);
    }
    const m = maskWord32[0]!;
    const view = wordView.of(bytes.buffer);
    const first = (bytes.byteOffset + i) >> 2;
    const last = first + count;
    if (newlines === undefined) {
      for (let w = first; w < last; w++) high |= view[w] = view[w]! ^ m;
    } else {
      for (let w = first; w < last; w++) {
        const x = view[w] = view[w]! ^ m;
        high |= x;
        if (newlineBits(x) !== 0) {
          const b = (w << 2) - bytes.byteOffset;
          for (let k = b; k < b + 4; k++) {
            if (bytes[k] === LF) newlines.push(k + shift);
          }
        }
      }
    }
    i += count << 2;
  }
  for (; i < to; i++) {
    const c = bytes[i] = bytes[i]! ^
      ((mask >>> (((offset + i) & 3) << 3)) & 0xff);
    high |= c;
    if (c === LF && newlines !== undefined) newlines.push(i + shift);
  }
  return high;
}
