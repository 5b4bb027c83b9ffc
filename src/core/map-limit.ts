/**
 * Runs `fn` over `items` with at most `limit` calls in flight, results in
 * input order. Reads against a forge API or the disk go in parallel, but a
 * thousand at once would trip rate limits and file-descriptor caps.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}
