// The part of `debug` (simple-git's logger) that exec.ts uses; the package ships no types.
declare module 'debug' {
  interface Debug {
    /** Turns every namespace off and returns the ones that were on. */
    disable(): string
    /** Turns on the given comma-separated namespaces; `-name` turns one off. */
    enable(namespaces: string): void
  }
  const debug: Debug
  export default debug
}
