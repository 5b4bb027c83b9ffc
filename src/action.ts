import {run} from './adapters/github/main.js'

await run()
