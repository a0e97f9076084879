/**
 * The one way every authenticator returns tags: sorted, each once.
 *
 * @module
 */

/**
 * A tag list as authenticators return it: de-duplicated and sorted by UTF-16
 * code units (`Array.prototype.sort`), the same order on every backend.
 *
 * @param tags tags in any order, possibly repeated
 * @returns a new array, sorted, without duplicates
 */
export function normalizeTags(tags: Iterable<string>): string[] {
  return [...new Set(tags)].sort();
}
