import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {renderActionYml} from '../../scripts/action-yml.js'

describe('generated action.yml', () => {
  const doc = parse(renderActionYml()) as {
    description: string
    outputs: Record<string, {description: string}>
  }

  it('has a description the Marketplace shows whole (under 125 characters)', () => {
    expect(doc.description.length).toBeLessThan(125)
  })

  it('describes changed and commit the way every command sets them', () => {
    expect(doc.outputs.changed.description).toMatch(/would change under dry-run/)
    expect(doc.outputs.commit.description).toMatch(/'' when none/)
  })
})
