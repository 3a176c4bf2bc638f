import { describe, expect, it } from 'vitest';
import { authenticate, bearerToken } from './auth.ts';
import { testContext } from './test-context.ts';

describe('authenticate', () => {
  it('accepts Bearer base64(accessId:secretKey) and refuses everything else with 403', () => {
    const { ctx, org } = testContext();
    expect(authenticate(ctx.state, `Bearer ${bearerToken('aid_x', 'sk_x')}`)).toEqual({ org, accessId: 'aid_x' });
    for (const header of [undefined, '', 'Bearer', `Basic ${bearerToken('aid_x', 'sk_x')}`, `Bearer ${bearerToken('aid_x', 'wrong')}`, 'Bearer aid_x:sk_x']) {
      expect(() => authenticate(ctx.state, header)).toThrow(expect.objectContaining({ statusCode: 403, type: 'FORBIDDEN' }));
    }
    org.disabled = true;
    expect(() => authenticate(ctx.state, `Bearer ${bearerToken('aid_x', 'sk_x')}`)).toThrow(/disabled/);
  });
});
