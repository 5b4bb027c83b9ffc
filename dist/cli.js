#!/usr/bin/env node
import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 538:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  a: () => (/* binding */ runCli)
});

// UNUSED EXPORTS: usage

;// CONCATENATED MODULE: external "node:util"
const external_node_util_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");
;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: ./src/core/errors.ts
/**
 * Two failure classes, because CI scripts branch on them: exit 2 means the
 * caller must change the invocation (nothing was touched), exit 1 means the
 * operation failed and may succeed on retry or after fixing the environment.
 *
 * Every message names the cause and the fix, in one line.
 */
class UsageError extends Error {
    exitCode = 2;
    constructor(message) {
        super(message);
        this.name = 'UsageError';
    }
}
class OperationError extends Error {
    exitCode = 1;
    constructor(message, options) {
        super(message, options);
        this.name = 'OperationError';
    }
}
function exitCodeOf(error) {
    return error instanceof UsageError ? 2 : 1;
}
function errorMessage(error) {
    if (error instanceof Error)
        return error.message;
    return String(error);
}

;// CONCATENATED MODULE: ./src/core/redact.ts
/**
 * Secrets are registered once and scrubbed from every string that leaves the
 * process (logs, errors, outputs). Git and HTTP libraries echo URLs and headers
 * in their errors, so redaction has to happen at the boundary, not at the call.
 */
class Redactor {
    secrets = new Set();
    add(secret) {
        if (!secret)
            return;
        this.secrets.add(secret);
        // Basic auth and base64 headers carry the token in encoded form.
        this.secrets.add(Buffer.from(secret).toString('base64'));
        for (const line of secret.split(/\r?\n/))
            if (line.length >= 4)
                this.secrets.add(line);
    }
    addBasic(user, secret) {
        this.add(secret);
        this.secrets.add(Buffer.from(`${user}:${secret}`).toString('base64'));
    }
    redact(text) {
        let out = text;
        // Longest first so a secret that contains another is replaced whole.
        for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) {
            if (s)
                out = out.split(s).join('***');
        }
        return out;
    }
    list() {
        return [...this.secrets];
    }
}

;// CONCATENATED MODULE: ./src/commands/types.ts
function defineCommand(def) {
    return def;
}

;// CONCATENATED MODULE: ./src/commands/set-image.ts


// Placeholder until the command lands; it fails loudly rather than pretending.
const setImageCommand = defineCommand({
    name: 'set-image',
    description: 'Set image tags and YAML values in a config repo (kustomize edit set image semantics, byte-preserving)',
    options: [],
    outputSpecs: [],
    settings: () => undefined,
    run: async () => {
        throw new OperationError('set-image is not built yet');
    },
    outputs: () => ({}),
    json: () => ({}),
    summary: () => '',
    text: () => ''
});

;// CONCATENATED MODULE: ./src/commands/promote.ts


// Placeholder until the command lands; it fails loudly rather than pretending.
const promoteCommand = defineCommand({
    name: 'promote',
    description: 'Copy image pins from one environment to the next, as a commit or a pull request',
    options: [],
    outputSpecs: [],
    settings: () => undefined,
    run: async () => {
        throw new OperationError('promote is not built yet');
    },
    outputs: () => ({}),
    json: () => ({}),
    summary: () => '',
    text: () => ''
});

;// CONCATENATED MODULE: ./src/commands/argo-upsert.ts


// Placeholder until the command lands; it fails loudly rather than pretending.
const argoUpsertCommand = defineCommand({
    name: 'argo-upsert',
    description: 'Create or update an Argo CD Application over its REST API, optionally sync and wait',
    options: [],
    outputSpecs: [],
    settings: () => undefined,
    run: async () => {
        throw new OperationError('argo-upsert is not built yet');
    },
    outputs: () => ({}),
    json: () => ({}),
    summary: () => '',
    text: () => ''
});

;// CONCATENATED MODULE: ./src/commands/changes.ts


// Placeholder until the command lands; it fails loudly rather than pretending.
const changesCommand = defineCommand({
    name: 'changes',
    description: 'Decide whether the image must be built, and which already-built tag to deploy',
    options: [],
    outputSpecs: [],
    settings: () => undefined,
    run: async () => {
        throw new OperationError('changes is not built yet');
    },
    outputs: () => ({}),
    json: () => ({}),
    summary: () => '',
    text: () => ''
});

;// CONCATENATED MODULE: ./src/commands/registry.ts




// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commands = [
    setImageCommand,
    promoteCommand,
    argoUpsertCommand,
    changesCommand
];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function findCommand(name) {
    return commands.find(c => c.name === name);
}

;// CONCATENATED MODULE: ./src/adapters/gitlab/dotenv.ts
/** GitLab's dotenv report accepts at most 5 KB in all. */
const DOTENV_LIMIT = 5 * 1024;
/** `pr-url` -> `GITOPS_PR_URL`; GitLab keys may only hold [A-Za-z0-9_]. */
function dotenvKey(output) {
    return `GITOPS_${output.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`;
}
/**
 * GitLab rejects the whole report for a multi-line value, so values are
 * flattened; values that would push the report past the limit are dropped
 * (with the key kept empty is worse than absent: a later job can test for it).
 */
function toDotenv(outputs, redactor) {
    let text = '';
    for (const [k, raw] of Object.entries(outputs)) {
        const value = (redactor ? redactor.redact(raw) : raw).replace(/[\r\n]+/g, ' ').trim();
        const line = `${dotenvKey(k)}=${value}\n`;
        if (Buffer.byteLength(text + line) > DOTENV_LIMIT)
            continue;
        text += line;
    }
    return text;
}

;// CONCATENATED MODULE: ./src/adapters/cli/main.ts






/** Options every command accepts on the command line. */
const COMMON = {
    json: { type: 'boolean', description: 'print one JSON object on stdout' },
    dotenv: { type: 'string', description: 'also write outputs as a GitLab dotenv report to this file' },
    help: { type: 'boolean', short: 'h', description: 'show this help' }
};
function usage(def) {
    if (!def) {
        const lines = commands.map(c => `  ${c.name.padEnd(14)}${c.description}`);
        return `usage: gitops-deploy <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'gitops-deploy <command> --help' for a command's options.\n`;
    }
    const opts = def.options
        .filter(o => !o.actionOnly)
        .map(o => {
        const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'boolean' ? '' : ' <value>'}${o.type === 'list' ? ' ...' : ''}`;
        const dflt = o.default ? ` (default: ${o.default})` : '';
        return `  ${flag.padEnd(34)}${o.description}${dflt}`;
    });
    for (const [name, o] of Object.entries(COMMON)) {
        const flag = `--${name}${o.type === 'string' ? ' <file>' : ''}`;
        opts.push(`  ${flag.padEnd(34)}${o.description}`);
    }
    return `usage: gitops-deploy ${def.name} [options]\n\n${def.description}\n\noptions:\n${opts.join('\n')}\n`;
}
function cliPlatform(io, redactor) {
    const write = (s) => io.stderr(redactor.redact(s) + '\n');
    return {
        redactor,
        info: write,
        warning: m => write(`warning: ${m}`),
        debug: m => {
            if (io.env.GITOPS_DEBUG)
                write(`debug: ${m}`);
        },
        setSecret: v => redactor.add(v),
        group: async (name, fn) => {
            write(`==> ${name}`);
            return fn();
        }
    };
}
function readerFor(def, args) {
    const options = {};
    for (const o of def.options) {
        if (o.actionOnly)
            continue;
        options[o.name] = { type: o.type === 'boolean' ? 'boolean' : 'string', multiple: o.type === 'list', ...(o.short ? { short: o.short } : {}) };
    }
    for (const [name, o] of Object.entries(COMMON))
        options[name] = { type: o.type, ...('short' in o ? { short: o.short } : {}) };
    let values;
    try {
        ;
        ({ values } = (0,external_node_util_namespaceObject.parseArgs)({ args, options, allowPositionals: false, strict: true }));
    }
    catch (e) {
        throw new UsageError(`${errorMessage(e)}; run 'gitops-deploy ${def.name} --help' for the options`);
    }
    const input = {
        string: n => {
            const v = values[n];
            return typeof v === 'string' ? v : undefined;
        },
        list: n => {
            const v = values[n];
            return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
        },
        boolean: n => {
            const v = values[n];
            return typeof v === 'boolean' ? v : undefined;
        }
    };
    return { input, json: values.json === true, dotenv: values.dotenv, help: values.help === true };
}
/** Runs one CLI invocation and returns its exit code; never throws. */
async function runCli(argv, io) {
    const redactor = new Redactor();
    for (const name of ['GITOPS_TOKEN', 'ARGOCD_AUTH_TOKEN', 'GITHUB_TOKEN', 'GITLAB_TOKEN', 'CI_JOB_TOKEN']) {
        redactor.add(io.env[name]);
    }
    const platform = cliPlatform(io, redactor);
    const [name, ...rest] = argv;
    if (!name || name === '--help' || name === '-h' || name === 'help') {
        io.stdout(usage());
        return name ? 0 : 2;
    }
    if (name === '--version') {
        io.stdout(`${VERSION}\n`);
        return 0;
    }
    const def = findCommand(name);
    if (!def) {
        io.stderr(`error: unknown command '${name}'; use one of: ${commands.map(c => c.name).join(', ')}\n`);
        return 2;
    }
    try {
        const parsed = readerFor(def, rest);
        if (parsed.help) {
            io.stdout(usage(def));
            return 0;
        }
        const settings = def.settings(parsed.input, io.env, platform);
        const result = await def.run(settings, platform);
        if (parsed.json)
            io.stdout(redactor.redact(JSON.stringify(def.json(result), null, 2)) + '\n');
        else {
            const text = def.text(result);
            if (text)
                io.stdout(redactor.redact(text.endsWith('\n') ? text : text + '\n'));
        }
        if (parsed.dotenv)
            (0,external_node_fs_namespaceObject.writeFileSync)(parsed.dotenv, toDotenv(def.outputs(result), redactor));
        return def.exitCode?.(result) ?? 0;
    }
    catch (e) {
        const message = redactor.redact(errorMessage(e)).split('\n');
        io.stderr(`error: ${message[0]}\n${message.slice(1).map(l => `  ${l}\n`).join('')}`);
        if (io.env.GITOPS_DEBUG && e instanceof Error && e.stack)
            io.stderr(redactor.redact(e.stack) + '\n');
        return exitCodeOf(e);
    }
}
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';


/***/ }),

/***/ 581:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _adapters_cli_main_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(538);

const code = await (0,_adapters_cli_main_js__WEBPACK_IMPORTED_MODULE_0__/* .runCli */ .a)(process.argv.slice(2), {
    stdout: s => process.stdout.write(s),
    stderr: s => process.stderr.write(s),
    env: process.env
});
process.exitCode = code;

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(581);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
