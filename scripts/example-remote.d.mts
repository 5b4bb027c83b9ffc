// Types for the demo helper, which stays plain JavaScript so `npm run demo` needs only Node.
export declare const root: string
export declare const git: (cwd: string, ...args: string[]) => string
export declare function exampleRemote(tmp: string): {bare: string; url: string}
