// Types of scripts/docs-gen.mjs, for test/docs.test.ts.
import type { Setting } from '@codegrant/core'

export interface CodeFacts {
  settings: readonly Setting[]
  options: { name: string; doc: string }[]
  /** Every `CodegrantErrorCodes` member: its status and its doc comment (when it happens). */
  errors: { code: string; status: number; when?: string }[]
}
export const TARGETS: string[]
export function readCode(root?: string): Promise<CodeFacts>
export function optionsSection(facts: Pick<CodeFacts, 'settings' | 'options'>): string
export function errorsSection(facts: Pick<CodeFacts, 'errors'>): string
export function render(text: string, sections: Record<string, string>, path?: string): string
export function generate(root?: string, code?: CodeFacts): Promise<{ path: string; current: string; expected: string }[]>
