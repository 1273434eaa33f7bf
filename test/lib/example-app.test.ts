import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleApp } from '../../bin/app';
import { maskAssetHashes } from '../support/masked-template';

interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: { constructPath: string }[];
}

/** Synthesizes the example app with cdk-nag and returns the unacknowledged findings. */
function nagFindings(app: App): Violation[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
  } catch (e) {
    if (!String(e).includes('ValidationFailed')) throw e;
  }
  const report = JSON.parse(fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'));
  return report.pluginReports.flatMap((r: { violations: Violation[] }) => r.violations);
}

describe('example app', () => {
  test('matches the snapshot (asset hashes masked)', () => {
    const { stack } = buildExampleApp(new App({ builtinCloudFormationValidation: false }));
    expect(maskAssetHashes(Template.fromStack(stack).toJSON())).toMatchSnapshot();
  });

  test.each([false, true])(
    'cdk-nag AwsSolutions (createDmsServiceRoles: %s): no unacknowledged errors or warnings',
    (roles) => {
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'zdm-nag-'));
      const { app } = buildExampleApp(new App({ builtinCloudFormationValidation: false, outdir }), {
        createDmsServiceRoles: roles,
      });
      const findings = nagFindings(app);
      expect(
        findings.map((v) => `${v.ruleName} ${v.severity} ${v.violatingConstructs.map((c) => c.constructPath)}`),
      ).toEqual([]);
      fs.rmSync(outdir, { recursive: true, force: true });
    },
  );
});
