#!/usr/bin/env node
import {runCliMain} from './bundle/index.js'

await runCliMain()
