import { resolveIntrinsics } from '../../../rehearsal/local/resolve-intrinsics';

const VALUES = { region: 'eu-west-1', getAtt: (id: string, attribute: string) => `getatt:${id}/${attribute}` };

describe('resolveIntrinsics', () => {
  test('resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split', () => {
    expect(
      resolveIntrinsics(
        {
          'Fn::Join': [
            '/',
            [
              { Ref: 'Zone' },
              { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['Table', 'Arn'] }] }] },
              { Ref: 'AWS::Region' },
            ],
          ],
        },
        VALUES,
      ),
    ).toBe('ref-Zone/Arn/eu-west-1');
  });

  test('fails when it meets an intrinsic it does not know or an index out of range', () => {
    expect(() => resolveIntrinsics({ 'Fn::ImportValue': 'x' }, VALUES)).toThrow(/cannot resolve/);
    expect(() => resolveIntrinsics({ 'Fn::Select': [5, ['a']] }, VALUES)).toThrow(/index 5 out of/);
  });
});
