/** String.prototype.isWellFormed (Node 20; the ES2023 lib typings predate it): no lone surrogates. */
export function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}
