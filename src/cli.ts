#!/usr/bin/env node
import {runCliMain} from './bundle.js'

await runCliMain()
