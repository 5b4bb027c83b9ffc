import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {Ajv, type ValidateFunction} from 'ajv'
import addFormatsModule from 'ajv-formats'

/**
 * Checks a request against GitHub's official OpenAPI description, the way
 * GitHub's own validation would: the route must exist for the method, path
 * and query parameters must match their schemas (unknown query parameters are
 * rejected too), and the JSON body must match the operation's schema with no
 * undeclared top-level properties.
 */

const require = createRequire(import.meta.url)
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema?: object
}

interface Operation {
  operationId: string
  parameters?: (Parameter | {$ref: string})[]
  requestBody?: {required?: boolean; content?: Record<string, {schema?: object}>}
}

interface Route {
  template: string
  method: string
  regex: RegExp
  names: string[]
  literalCount: number
  operation: Operation
}

export interface OpenApiMatch {
  operationId: string
  template: string
  params: Record<string, string>
  errors: string[]
}

type Spec = {
  paths: Record<string, Record<string, Operation>>
  components: Record<string, Record<string, unknown>>
}

let shared: OpenApiValidator | undefined

export class OpenApiValidator {
  private readonly routes: Route[] = []
  private readonly ajv: Ajv
  private readonly coercing: Ajv
  private readonly bodyValidators = new Map<string, ValidateFunction>()
  private readonly paramValidators = new Map<string, ValidateFunction>()

  /** The spec is 13 MB; parse it once per test worker. */
  static github(): OpenApiValidator {
    shared ??= new OpenApiValidator(
      JSON.parse(
        readFileSync(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8')
      ) as Spec
    )
    return shared
  }

  constructor(private readonly spec: Spec) {
    const components = {$id: 'gh', components: spec.components}
    // GitHub-specific formats (repo.nwo, …) are unknown to ajv; silence the warning, keep the error channel.
    const logger = {log: () => undefined, warn: () => undefined, error: console.error}
    this.ajv = addFormats(new Ajv({strict: false, allErrors: true, logger}))
    this.coercing = addFormats(
      new Ajv({strict: false, allErrors: true, coerceTypes: 'array', logger})
    )
    this.ajv.addFormat('repo.nwo', /^[\w.-]+\/[\w.-]+$/)
    this.ajv.addSchema(components)
    this.coercing.addSchema(components)
    for (const [template, item] of Object.entries(spec.paths)) {
      const names: string[] = []
      const source = template
        .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\\?\{([^}]+)\\?\}/g, (_, n: string) => {
          names.push(n)
          return '([^/]+)'
        })
      const regex = new RegExp(`^${source}$`)
      const literalCount = template.split('/').filter(s => s && !s.startsWith('{')).length
      for (const [method, operation] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
        this.routes.push({
          template,
          method: method.toUpperCase(),
          regex,
          names,
          literalCount,
          operation
        })
      }
    }
    // Literal segments win over parameters, as in GitHub's router (`/pulls/comments` vs `/pulls/{pull_number}`).
    this.routes.sort((a, b) => b.literalCount - a.literalCount)
  }

  /** Undefined when no operation exists for the method and path. */
  match(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown
  ): OpenApiMatch | undefined {
    const route = this.routes.find(r => r.method === method && r.regex.test(path))
    if (!route) return undefined
    const m = route.regex.exec(path)!
    const params: Record<string, string> = {}
    route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])))
    const errors: string[] = []
    const declared = (route.operation.parameters ?? []).map(p => this.resolve<Parameter>(p))
    for (const p of declared) {
      if (p.in !== 'path' && p.in !== 'query') continue
      const values =
        p.in === 'path'
          ? params[p.name] !== undefined
            ? [params[p.name]]
            : []
          : query.getAll(p.name)
      if (values.length === 0) {
        if (p.required) errors.push(`missing required ${p.in} parameter '${p.name}'`)
        continue
      }
      const validate = this.paramValidator(route, p)
      for (const v of values) {
        const holder = {value: v as unknown}
        if (!validate(holder))
          errors.push(
            `${p.in} parameter '${p.name}'=${JSON.stringify(v)}: ${this.coercing.errorsText(validate.errors)}`
          )
      }
    }
    const known = new Set(declared.filter(p => p.in === 'query').map(p => p.name))
    for (const name of new Set(query.keys())) {
      if (!known.has(name))
        errors.push(`unknown query parameter '${name}' for ${route.operation.operationId}`)
    }
    const content = route.operation.requestBody?.content?.['application/json']
    if (body !== undefined) {
      if (!content?.schema) errors.push(`${route.operation.operationId} takes no JSON body`)
      else {
        const validate = this.bodyValidator(route, content.schema)
        if (!validate(body))
          errors.push(`body: ${this.ajv.errorsText(validate.errors, {dataVar: 'body'})}`)
      }
    } else if (route.operation.requestBody?.required) {
      errors.push(`${route.operation.operationId} requires a JSON body`)
    }
    return {operationId: route.operation.operationId, template: route.template, params, errors}
  }

  private resolve<T>(x: T | {$ref: string}): T {
    const ref = (x as {$ref?: string}).$ref
    if (!ref) return x as T
    const [, , group, name] = ref.split('/')
    return this.resolve(this.spec.components[group][name] as T | {$ref: string})
  }

  private paramValidator(route: Route, p: Parameter): ValidateFunction {
    const key = `${route.method} ${route.template} ${p.in}:${p.name}`
    let v = this.paramValidators.get(key)
    if (!v) {
      v = this.coercing.compile({
        type: 'object',
        properties: {value: rewriteRefs(p.schema ?? {})}
      })
      this.paramValidators.set(key, v)
    }
    return v
  }

  private bodyValidator(route: Route, schema: object): ValidateFunction {
    const key = `${route.method} ${route.template}`
    let v = this.bodyValidators.get(key)
    if (!v) {
      v = this.ajv.compile(
        closeTopLevel(rewriteRefs(this.resolve(schema)) as Record<string, unknown>)
      )
      this.bodyValidators.set(key, v)
    }
    return v
  }
}

function rewriteRefs(schema: unknown): object {
  return JSON.parse(
    JSON.stringify(schema).replace(/"\$ref":"#\/components\//g, '"$ref":"gh#/components/')
  )
}

/** GitHub ignores unknown body fields, but a typo in ours would silently do nothing: reject them. */
function closeTopLevel(schema: Record<string, unknown>): object {
  const close = (s: Record<string, unknown>) =>
    s.type === 'object' && s.properties && s.additionalProperties === undefined
      ? {...s, additionalProperties: false}
      : s
  const out = close(schema)
  for (const k of ['oneOf', 'anyOf'] as const) {
    if (Array.isArray(out[k])) out[k] = (out[k] as Record<string, unknown>[]).map(close)
  }
  return out
}
