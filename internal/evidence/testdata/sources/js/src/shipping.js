'use strict';

// Shipping cost in cents for a weight in grams and a zone.
function shippingCost(grams, zone) {
  if (grams <= 0) {
    throw new Error('weight must be positive');
  }
  let base = 500;
  if (zone === 'eu') {
    base = 900;
  } else if (zone === 'world') {
    base = 1500;
  }
  return base + Math.ceil(grams / 1000) * 100;
}

// Free shipping above a cart value.
function isFree(cartCents) {
  return cartCents >= 5000;
}

// Express surcharge, not yet tested.
function express(cost, rush) {
  if (rush) {
    return cost * 2;
  }
  return cost + 300;
}

module.exports = { shippingCost, isFree, express };
