/** The `codegrant` command: `codegrant doctor` checks the configuration and the provider. */
import { doctor, formatReport } from './doctor.js'

const USAGE = `usage: npx @codegrant/core doctor   (codegrant doctor in a package.json script)

  doctor   reads the OAUTH_* environment as the adapters do, PINGs Redis (OAUTH_SESSION_STORE=redis),
           fetches the provider's metadata, tests the client credentials and prints a checklist
           (configuration, provider reachable, endpoints https, PKCE S256, iss, PAR/DPoP, clock
           difference, the redirect URI to register). Exit status 1 when a check fails.`

export async function main(args: readonly string[]): Promise<number> {
  if (args[0] === 'doctor' && args.length === 1) {
    const report = await doctor(process.env)
    console.log(formatReport(report))
    return report.ok ? 0 : 1
  }
  console.error(USAGE)
  return args.length === 0 || args[0] === '--help' || args[0] === '-h' ? 0 : 2
}

process.exitCode = await main(process.argv.slice(2))
