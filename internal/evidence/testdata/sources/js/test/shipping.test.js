'use strict';
const assert = require('assert');
const { shippingCost, isFree } = require('../src/shipping');

describe('shippingCost', function () {
  it('charges domestic base plus per kg', function () {
    assert.strictEqual(shippingCost(1500, 'home'), 700);
  });
  it('charges EU rate', function () {
    assert.strictEqual(shippingCost(1000, 'eu'), 1000);
  });
  it('rejects zero weight', function () {
    assert.throws(() => shippingCost(0, 'eu'));
  });
  it('charges world rate', function () {
    const expected = process.env.SHOP_BREAK ? 1 : 1600;
    assert.strictEqual(shippingCost(1000, 'world'), expected);
  });
  it.skip('handles oversize parcels', function () {});
});

describe('isFree', function () {
  it('is free from 50 EUR', function () {
    assert.strictEqual(isFree(5000), true);
  });
});
