package safe

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Call is one plain call inside a batch.
type Call struct {
	To    common.Address `json:"to"`
	Value *hexutil.Big   `json:"value"`
	Data  hexutil.Bytes  `json:"data"`
}

// MultiSendData is the calldata of MultiSendCallOnly.multiSend(transactions): each call packed
// as operation (uint8, always 0: the call-only library refuses delegatecalls) ‖ to (20 bytes) ‖
// value (uint256) ‖ data length (uint256) ‖ data.
func MultiSendData(calls []Call) ([]byte, error) {
	var packed []byte
	for _, c := range calls {
		packed = append(packed, 0)
		packed = append(packed, c.To[:]...)
		packed = append(packed, common.LeftPadBytes(bigOrZero(c.Value).Bytes(), 32)...)
		packed = append(packed, common.LeftPadBytes(new(big.Int).SetInt64(int64(len(c.Data))).Bytes(), 32)...)
		packed = append(packed, c.Data...)
	}
	return mustArtifact(NameMultiSend).ABI.Pack("multiSend", packed)
}

// SplitMultiSend undoes MultiSendData's packing (the argument of multiSend).
func SplitMultiSend(packed []byte) ([]Call, error) {
	var out []Call
	for i := 0; len(packed) > 0; i++ {
		if len(packed) < 85 {
			return nil, fmt.Errorf("multiSend call %d: %d bytes left, want at least 85", i, len(packed))
		}
		if packed[0] != 0 {
			return nil, fmt.Errorf("multiSend call %d: operation %d, want 0 (call)", i, packed[0])
		}
		c := Call{To: common.BytesToAddress(packed[1:21]), Value: (*hexutil.Big)(new(big.Int).SetBytes(packed[21:53]))}
		lenWord := packed[53:85]
		for _, b := range lenWord[:24] {
			if b != 0 {
				return nil, fmt.Errorf("multiSend call %d: data length too large", i)
			}
		}
		n := binary.BigEndian.Uint64(lenWord[24:])
		if n > uint64(len(packed)-85) {
			return nil, fmt.Errorf("multiSend call %d: data length %d exceeds the %d bytes left", i, n, len(packed)-85)
		}
		c.Data = append([]byte(nil), packed[85:85+n]...)
		out = append(out, c)
		packed = packed[85+n:]
	}
	return out, nil
}
